"""The job model and the store's scripts: what a job is, the Lua script per state change, and
the clients that call them."""
