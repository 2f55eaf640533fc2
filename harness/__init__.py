"""Test and demo infrastructure: start real servers on free loopback ports, and stop them.

Used by the tests and the HA demo; the product code (accounts, session_engines) never
imports it.
"""
