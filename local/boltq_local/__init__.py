"""Development tools around boltq_core: the embedded Valkey server, the local runtime
(`boltq dev`) and the `boltq` command line. Nothing deployed to Lambda imports this package."""
