"""``motionlib store pack|unpack|info|compact``: the sharded clip store (``motionlib.motion.store``).

* ``pack CLIP_DIR... --out STORE``: the motionlib clips under the folders (and clip files given) into a
  store (made when missing; an existing store gets new shards). A clip's id is its file name without
  ``.npz``; its ``<clip>.tokens.npz`` beside it, when present, goes into the same record. Unreadable
  files are listed, the rest is packed (exit code 1 when any failed).
* ``unpack STORE --out DIR``: every clip back as ``DIR/ID.npz`` (and ``DIR/ID.tokens.npz`` for packed
  tokens); records that are not Motion clips are listed as skipped.
* ``info STORE``: clips, shards, records, bytes, duplicate ids.
* ``compact STORE --out NEW``: a copy with every clip once (the newest copy of a duplicate id).
"""

from __future__ import annotations

from pathlib import Path

from motionlib.cli.common import Failures, add_json_flag, print_json


def register(sub) -> None:
    p = sub.add_parser("store", help="the sharded clip store: pack, unpack, info, compact",
                       description="A clip store holds many clips in a few tar shards with an index (random "
                                   "access by clip id, streaming reads for training); see docs/store.md.")
    ss = p.add_subparsers(dest="store_command", metavar="SUBCOMMAND")
    ss.required = True

    pk = ss.add_parser("pack", help="pack clip folders (and their token files) into a store")
    pk.add_argument("clips", nargs="+", type=Path, help="folders of motionlib clips (searched recursively) or clip files")
    pk.add_argument("--out", type=Path, required=True, help="store folder (made when missing, else added to)")
    pk.add_argument("--max-clips", type=int, default=256, help="clips per shard")
    pk.add_argument("--shard-name", default=None, help="shard name prefix (default: time, host, process, random)")
    pk.add_argument("--no-tokens", action="store_true", help="do not pack the clips' .tokens.npz files")
    add_json_flag(pk)
    pk.set_defaults(func=run_pack)

    up = ss.add_parser("unpack", help="write a store's clips back as clip files")
    up.add_argument("store", type=Path)
    up.add_argument("--out", type=Path, required=True, help="folder for ID.npz (and ID.tokens.npz) files")
    add_json_flag(up)
    up.set_defaults(func=run_unpack)

    inf = ss.add_parser("info", help="clips, shards, bytes and duplicate ids of a store")
    inf.add_argument("store", type=Path)
    inf.add_argument("--skip-bad", action="store_true", help="leave out unreadable shards (listed) instead of failing")
    add_json_flag(inf)
    inf.set_defaults(func=run_info)

    cp = ss.add_parser("compact", help="copy a store with every clip once")
    cp.add_argument("store", type=Path)
    cp.add_argument("--out", type=Path, required=True, help="new store folder (must not exist or be empty)")
    cp.add_argument("--max-clips", type=int, default=256, help="clips per shard")
    add_json_flag(cp)
    cp.set_defaults(func=run_compact)


def _open_or_create(path: Path):
    from motionlib.motion.store import ClipStore, is_store

    return ClipStore.open(path) if is_store(path) else ClipStore.create(path)


def run_pack(args) -> int:
    from motionlib.motion.errors import MotionError
    from motionlib.motion.io import find_clips, load_motion
    from motionlib.motion.store import motion_to_record
    from motionlib.tokenizer.tokens import RECORD_META, load_tokens, token_path, tokens_to_record

    files = find_clips(args.clips, required=True)
    store = _open_or_create(args.out)
    before = set(store.ids())
    fails = Failures()
    packed = with_tokens = 0
    with store.writer(shard_name=args.shard_name, max_clips=args.max_clips) as w:
        for f in files:
            with fails.one_input():
                cid = f.name[:-len(".npz")] if f.name.endswith(".npz") else f.name
                if cid in w.ids:
                    raise MotionError(f"clip id {cid!r} given twice (another clip file of that name was packed)",
                                      str(f))
                arrays, meta = motion_to_record(load_motion(f))
                tp = token_path(f)
                if not args.no_tokens and tp.is_file():
                    with fails.one_input():  # an unreadable token file is listed; its clip is packed without
                        t_arrays, t_meta = tokens_to_record(load_tokens(tp))
                        arrays, meta = {**arrays, **t_arrays}, {**meta, RECORD_META: t_meta}
                        with_tokens += 1
                w.add(cid, arrays, meta)
                packed += 1
    store.refresh()
    replaced = sorted(set(w.ids) & before)
    result = {"store": str(store.path), "packed": packed, "with_tokens": with_tokens, "shards_written": len(w.shards),
              "replaced": len(replaced), "clips": len(store), "shards": len(store.shards()), "bytes": store.nbytes()}
    code = fails.finish(result)
    if args.json:
        print_json(result)
    else:
        print(f"packed {packed} clip(s) ({with_tokens} with tokens) into {len(w.shards)} shard(s) of {store.path}: "
              f"{len(store)} clips, {len(store.shards())} shards, {store.nbytes() / 1e6:.1f} MB"
              + (f"; {len(replaced)} id(s) were already in the store (the new copies are read)" if replaced else ""))
        fails.print()
    return code


def run_unpack(args) -> int:
    from motionlib.motion.errors import MotionError
    from motionlib.motion.io import save_motion
    from motionlib.motion.store import ClipStore, motion_from_record
    from motionlib.motion.store.records import is_motion_record
    from motionlib.tokenizer.tokens import has_record_tokens, save_tokens, tokens_from_record

    store = ClipStore.open(args.store)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    fails = Failures()
    written = tokens = 0
    skipped: list[str] = []
    for cid, arrays, meta in store.iter_records():
        with fails.one_input():
            src = f"{store.path}/{cid}"
            if not is_motion_record(meta):
                skipped.append(cid)
                continue
            motion = motion_from_record(arrays, meta, src)
            if has_record_tokens(arrays, meta):
                save_tokens(out / f"{cid}.tokens.npz", tokens_from_record(arrays, meta, src))
                tokens += 1
            save_motion(motion, out / f"{cid}.npz")
            written += 1
    result = {"store": str(store.path), "out": str(out), "clips": written, "tokens": tokens,
              "skipped_not_motion": len(skipped), "skipped_ids": skipped[:20]}
    code = fails.finish(result)
    if not written and fails.errors:
        raise MotionError(f"no clip could be unpacked ({len(fails.errors)} failed; first: {fails.errors[0]})")
    if args.json:
        print_json(result)
    else:
        print(f"unpacked {written} clip(s) ({tokens} with tokens) from {store.path} into {out}"
              + (f"; {len(skipped)} record(s) that are not Motion clips skipped" if skipped else ""))
        fails.print()
    return code


def run_info(args) -> int:
    import warnings

    from motionlib.motion.store import ClipStore

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skipped shards are in the result
        store = ClipStore.open(args.store, skip_bad=args.skip_bad)
    info = store.info()
    if args.json:
        print_json(info)
        return 0
    print(f"{info['store']}: {info['clips']} clips in {info['shards']} shards ({info['records']} records), "
          f"{info['bytes'] / 1e6:.1f} MB")
    if info["duplicates"]:
        print(f"  {info['duplicates']} id(s) in more than one shard (the newest shard's copy is read; "
              f"`motionlib store compact` removes the others)")
        for cid, shards in info["duplicate_ids"].items():
            print(f"    {cid}: {', '.join(shards)}")
    for name, why in info["skipped_shards"].items():
        print(f"  skipped shard {name}: {why}")
    return 0


def run_compact(args) -> int:
    from motionlib.motion.store import ClipStore

    src = ClipStore.open(args.store)
    dst = src.compact(args.out, max_clips=args.max_clips)
    result = {"store": str(dst.path), "clips": len(dst), "shards": len(dst.shards()), "bytes": dst.nbytes(),
              "duplicates_dropped": sum(len(v) - 1 for v in src.duplicates().values())}
    if args.json:
        print_json(result)
    else:
        print(f"compacted {src.path} into {dst.path}: {result['clips']} clips, {result['shards']} shards, "
              f"{result['bytes'] / 1e6:.1f} MB ({result['duplicates_dropped']} older copies dropped)")
    return 0
