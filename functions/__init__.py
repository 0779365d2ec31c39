"""One small Flask app per endpoint group, each deployable on its own (WSGI container or Lambda handler)."""
