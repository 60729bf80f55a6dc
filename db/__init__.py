"""The feedback store: every prediction the app makes, with the label a person gave it.

README's Architecture table says which module does what. The package never imports
torch: images arrive as 784 bytes (or a uint8 array), so a server that only stores
and reports needs no deep-learning stack.
"""

from db.errors import DatabaseUnavailableError, FeedbackStoreError, UnknownRevisionError

__all__ = ["DatabaseUnavailableError", "FeedbackStoreError", "UnknownRevisionError"]
