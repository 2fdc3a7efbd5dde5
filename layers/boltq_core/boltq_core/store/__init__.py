"""Connections to the Redis/Valkey store, and how they ride through a failover."""
