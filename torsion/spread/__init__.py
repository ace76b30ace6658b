"""Perspective Broker and its layers: banana (bytes), jelly (objects), pb (remote calls)."""
