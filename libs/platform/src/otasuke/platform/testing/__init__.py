"""Test helpers and the pytest plugin (registered as ``pytest11`` entry point ``otasuke``)."""
