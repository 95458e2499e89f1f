"""Jingdi (警滴): a crowd-dispatch platform for police districts."""

__version__ = "0.1.0"
