"""Access (SPEC §14): scoped API keys stored hashed, the route -> scope table, WebSocket
tickets, and the authorizer's policy. Imports from jobs/ (the Lua loader) and below."""
