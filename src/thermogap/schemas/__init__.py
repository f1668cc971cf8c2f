"""Pydantic output documents of thermogap jobs."""
