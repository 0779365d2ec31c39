"""Task Tracker's shared layer.

domain -> application -> adapters / platform; see ARCHITECTURE.md.
"""
