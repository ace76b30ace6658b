"""Perspective Broker and its layers: banana (bytes), jelly (objects), pb (calls); tests/spread."""
