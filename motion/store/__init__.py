"""motionlib.motion.store: the sharded clip store (tar shards with an index; see docs/store.md)."""

from .records import motion_from_record, motion_to_record
from .store import ClipStore, StoreWriter, is_store

__all__ = ["ClipStore", "StoreWriter", "is_store", "motion_from_record", "motion_to_record"]
