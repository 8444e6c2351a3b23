"""Tests of the war-room TUI: pilot tests for behaviour, snapshots for looks."""
