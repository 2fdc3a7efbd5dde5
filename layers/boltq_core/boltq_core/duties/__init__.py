"""The serverless duties: promotion, event following, the worker fleet, status push."""
