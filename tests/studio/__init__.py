"""Tests of the annotation studio."""
