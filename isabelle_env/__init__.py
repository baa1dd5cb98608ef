"""Isabelle environments (PISA gRPC client, server control, sketch checker): not built yet."""
