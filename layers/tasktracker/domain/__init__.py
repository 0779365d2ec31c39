"""The core of Task Tracker: entities, value objects, rules and errors. Imports no framework."""
