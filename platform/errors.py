"""The base of every error caused by what a user gave: a config, a file, a row.

The CLI prints these as one line naming the culprit (exit 2) and never a traceback;
anything else is a bug and keeps its traceback.
"""


class UserInputError(ValueError):
    pass
