"""Isabelle through PISA: gRPC client and server control, the screen of model text, step environment, DSP checker."""
