"""The local world: stand-ins for the systems this connector talks to (Entra ID, Epic, Microsoft Graph,
Azure Communication Services), each a small HTTP(S) service on 127.0.0.1 that speaks the real wire protocol
of the system it plays, so the real SDKs and our real code run end to end.

The tests start them as fixtures and `make run` starts them beside the connector: one code path for both.
Development only: never deployed (see `.funcignore`).
"""
