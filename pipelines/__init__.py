"""Bytewax dataflows that wrap the risk engine.

Sources and sinks for Kafka and the in-process bus, and the runners that start them.
"""
