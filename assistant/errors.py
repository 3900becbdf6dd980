"""The one error type of the engine: ``AssistantError`` means "a person can act on this".

Invariant: every error a user can cause (a bad file, a missing model, a wrong flag, a broken checkpoint)
is an ``AssistantError`` whose message names the thing at fault and what to do about it. The CLI prints
it without a traceback (exit status 2) and the app shows it as a sentence; anything else that escapes is a
programming bug and keeps its traceback.
"""

from __future__ import annotations


class AssistantError(Exception):
    """An error a person can act on: the message says what is wrong and how to fix it."""


class UsageError(AssistantError):
    """Options or arguments that do not fit together (a command line, a form)."""


class SettingsError(AssistantError):
    """An environment variable or setting with a value the engine cannot use."""


class TrainingDataError(AssistantError):
    """Labelled data too small or too unbalanced for the training or evaluation asked for."""
