import collections
import os
import pickle
import struct

import joblib
import numpy as np
import pytest

from motionlib.motion.errors import MotionError
from motionlib.motion.safe_pickle import safe_load


def _payload():
    tracks = collections.defaultdict(dict)  # WHAM's demo collects results in a defaultdict(dict)
    tracks[0]["pose_world"] = np.linspace(-1, 1, 5 * 72).reshape(5, 72)
    tracks[0]["frame_ids"] = np.arange(5)
    tracks[3]["fortran_be"] = np.asfortranarray(np.arange(12, dtype=">f4").reshape(3, 4))
    tracks[3]["objects"] = np.array([1, "a", None], dtype=object)
    tracks[3]["misc"] = {"set": {1, 2}, "scalar": np.float32(2.5), "empty": np.zeros((0, 3)), "t": (1, "x")}
    return tracks


def _same(a, b):
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, np.ndarray):
        if a.dtype.hasobject:
            return b.dtype.hasobject and list(a.ravel()) == list(b.ravel())
        return isinstance(b, np.ndarray) and a.shape == b.shape and np.array_equal(a, b)
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)])
def test_joblib_files_load_without_joblib_load(tmp_path, compress):
    path = tmp_path / "out.pkl"
    joblib.dump(_payload(), path, compress=compress)
    back = safe_load(path)
    assert _same(_payload(), back)
    assert type(back) is dict  # defaultdict comes back as a plain dict
    assert back[3]["fortran_be"].dtype.isnative


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_plain_pickles_every_protocol(tmp_path, protocol):
    path = tmp_path / "out.pkl"
    path.write_bytes(pickle.dumps(_payload(), protocol=protocol))
    assert _same(_payload(), safe_load(path))


def test_python2_style_pickle_with_byte_strings(tmp_path):
    """A protocol-2 stream as Python 2 writes it: module names ``__builtin__``
    and ``numpy.core.multiarray``, array bytes as a py2 ``str`` (SHORT_BINSTRING)."""
    values = np.array([1.0, -2.5, 3e10, 7.25e-3])
    raw = values.astype("<f8").tobytes()
    assert any(b >= 0x80 for b in raw)  # exercises the latin-1 path

    def s(b: bytes) -> bytes:  # SHORT_BINSTRING
        return b"U" + bytes([len(b)]) + b
    stream = (
        b"\x80\x02" + b"}q\x00(" + s(b"poses")
        + b"cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00\x85" + s(b"b") + b"\x87Rq\x03"
        + b"(K\x01K\x04\x85cnumpy\ndtype\nq\x04" + s(b"f8") + b"K\x00K\x01\x87Rq\x05"
        + b"(K\x03" + s(b"<") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89" + s(raw) + b"tb"
        + s(b"names") + b"c__builtin__\nset\n]q\x06(" + s(b"a") + s(b"b") + b"e\x85Rq\x07"
        + b"u."
    )
    path = tmp_path / "py2.pkl"
    path.write_bytes(stream)
    back = safe_load(path)
    np.testing.assert_array_equal(back["poses"], values)
    assert back["names"] == {"a", "b"}


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _Custom:
    pass


def test_malicious_pickle_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"pose": np.zeros(3), "x": _Evil(marker)}))
    with pytest.raises(MotionError) as e:
        safe_load(path)
    assert str(path) in str(e.value) and "system" in str(e.value)
    jpath = tmp_path / "evil_joblib.pkl"
    joblib.dump({"pose": np.zeros((4, 72)), "x": _Evil(marker)}, jpath, compress=3)
    with pytest.raises(MotionError, match="system"):
        safe_load(jpath)
    assert not marker.exists()


@pytest.mark.parametrize("obj,needle", [
    ({"f": eval}, "builtins.eval"),
    ({"c": _Custom()}, "_Custom"),
    ({"g": getattr}, "builtins.getattr"),
])
def test_other_globals_are_refused(tmp_path, obj, needle):
    path = tmp_path / "bad.pkl"
    path.write_bytes(pickle.dumps(obj))
    with pytest.raises(MotionError, match=needle):
        safe_load(path)


def test_guarded_helpers_refuse_misuse(tmp_path):
    # defaultdict whose factory is an allowed global but not a container type
    p1 = tmp_path / "dd.pkl"
    p1.write_bytes(b"\x80\x02ccollections\ndefaultdict\ncnumpy\nndarray\n\x85R.")
    with pytest.raises(MotionError, match="defaultdict"):
        safe_load(p1)
    # _codecs.encode with a codec other than latin-1
    p2 = tmp_path / "codec.pkl"
    p2.write_bytes(b"\x80\x02c_codecs\nencode\nX\x01\x00\x00\x00aX\x04\x00\x00\x00zlib\x86R.")
    with pytest.raises(MotionError, match="encode"):
        safe_load(p2)
    # chumpy / sparse stand-ins are off unless asked for (SMPL model loading only)
    p3 = tmp_path / "ch.pkl"
    p3.write_bytes(b"\x80\x02cchumpy.ch\nCh\n)\x81}b.")
    with pytest.raises(MotionError, match="chumpy.ch.Ch"):
        safe_load(p3)


def test_truncated_and_garbage_files(tmp_path):
    path = tmp_path / "t.pkl"
    joblib.dump({"a": np.arange(1000.0)}, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(MotionError, match="t.pkl"):
        safe_load(path)
    path.write_bytes(b"definitely not a pickle")
    with pytest.raises(MotionError, match="not a readable"):
        safe_load(path)
    with pytest.raises(MotionError, match="no such file"):
        safe_load(tmp_path / "missing.pkl")
    path.write_bytes(struct.pack("<I", 7) + b"\x00" * 8)
    with pytest.raises(MotionError):
        safe_load(path)


def test_any_garbage_is_a_motion_error(tmp_path):
    """Short garbage after each of the 256 leading bytes, and random files: the unpickler fails in
    many ways (struct.error on b"junk", whose 'j' opcode reads 4 bytes), always as a MotionError
    that names the file."""
    path = tmp_path / "g.pkl"
    rng = np.random.default_rng(0)
    payloads = [bytes([b]) + b"unk" for b in range(256)] + [rng.bytes(int(n)) for n in rng.integers(1, 64, 64)]
    for payload in payloads:
        path.write_bytes(payload)
        try:
            safe_load(path)
        except MotionError as e:
            assert "g.pkl" in str(e)
        # a few payloads are valid pickles (e.g. b"Nunk" is None and ignores the rest)
