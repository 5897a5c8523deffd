"""motionlib: physics-validated human motion at scale.

Stages live in sub-packages and data flows one way:
``motion -> sim -> policies -> tokenizer -> llm -> retarget``.
A lower stage never imports a higher one.
"""

__version__ = "0.1.0"
