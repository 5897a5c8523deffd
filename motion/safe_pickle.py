"""Restricted unpickling for the pickle-based files motionlib reads.

Two real-world inputs are pickles: official SMPL model files (``.pkl``, written
by Python 2 with chumpy objects and a scipy sparse ``J_regressor``) and WHAM's
demo output (written with ``joblib.dump``). A plain ``pickle.load`` on such a
file can run arbitrary code, so :func:`safe_load` reads them with an
unpickler whose ``find_class`` resolves only an allow-list of globals:

* numpy array / dtype / scalar reconstruction (``numpy.core.*`` and
  ``numpy._core.*`` spellings, protocols 0-5);
* plain builtin containers and scalars (``dict``, ``list``, ``set``, ...),
  ``collections.OrderedDict`` and ``collections.defaultdict`` (with a builtin
  factory), ``copyreg._reconstructor`` (only for the stand-ins below),
  ``_codecs.encode`` (only to latin-1, which Python 3 uses for ``bytes`` in
  protocol < 3 pickles);
* with ``allow_chumpy``: any ``chumpy.*`` class, mapped to a stand-in that only
  records its pickled state (chumpy ``Ch.__getstate__`` pickles the instance
  ``__dict__`` minus caches; a plain ``Ch`` keeps its value in ``'x'``), later
  evaluated to a numpy array for the few expression types SMPL files use;
* with ``allow_sparse``: scipy ``csc``/``csr`` matrices, captured the same way
  and converted to dense arrays;
* joblib's ``NumpyArrayWrapper``: joblib writes each array as that wrapper
  object followed by the raw array bytes *inside* the pickle stream; we read
  the bytes ourselves (joblib is not needed and ``joblib.load`` is never
  called). Compressed joblib files (zlib, gzip, bz2, xz, lzma) are detected by
  their magic bytes and decompressed as a stream.

Any other global (``os.system``, ``builtins.eval``, arbitrary classes) raises
:class:`MotionError` naming the file and the refused global *before* it is
resolved, so nothing from the file is executed.
"""

from __future__ import annotations

import _compat_pickle
import bz2
import collections
import gzip
import io
import lzma
import os
import pickle
import zlib
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from .errors import MotionError

MAX_DENSE_ELEMENTS = 200_000_000  # refuse to densify a sparse matrix larger than this
_READ_CHUNK = 1 << 24


class RefusedGlobal(pickle.UnpicklingError):
    def __init__(self, module: str, name: str, why: str = "not on the allow-list"):
        self.module, self.name, self.why = module, name, why
        super().__init__(f"refused global {module}.{name} ({why})")


# ----------------------------------------------------------------- stand-ins
class _Captured:
    """Records what a pickle says about an object of a foreign class, and
    nothing else: constructor arguments and the BUILD state. Subclassed per
    global so the original module/class name is kept."""

    source_module = ""
    source_name = ""

    def __new__(cls, *args: Any, **kwargs: Any) -> "_Captured":
        obj = object.__new__(cls)
        obj.args = args
        obj.state = None
        return obj

    def __init__(self, *args: Any, **kwargs: Any) -> None:  # pickle's REDUCE/OBJ call it
        pass

    def __setstate__(self, state: Any) -> None:
        self.state = state

    @classmethod
    def qualname(cls) -> str:
        return f"{cls.source_module}.{cls.source_name}"


class ChumpyObject(_Captured):
    """Stand-in for a chumpy ``Ch`` (or chumpy expression) object."""


class SparseMatrix(_Captured):
    """Stand-in for a scipy.sparse csc/csr matrix."""


class JoblibArrayWrapper(_Captured):
    """Stand-in for ``joblib.numpy_pickle.NumpyArrayWrapper``."""


_STANDIN_CACHE: dict[tuple[type, str, str], type] = {}


def _standin(base: type, module: str, name: str) -> type:
    key = (base, module, name)
    if key not in _STANDIN_CACHE:
        _STANDIN_CACHE[key] = type(f"{base.__name__}[{name}]", (base,),
                                   {"source_module": module, "source_name": name})
    return _STANDIN_CACHE[key]


# ------------------------------------------------------- guarded callables
def _latin1_encode(obj: Any, encoding: str = "utf-8", errors: str = "strict") -> bytes:
    if encoding.lower().replace("_", "-") not in ("latin1", "latin-1", "iso-8859-1"):
        raise RefusedGlobal("_codecs", "encode", f"codec {encoding!r} not allowed")
    if not isinstance(obj, str):
        raise RefusedGlobal("_codecs", "encode", "argument is not a string")
    return obj.encode("latin1", errors)


_SAFE_FACTORIES = (None, dict, list, set, tuple, int, float, str)


def _defaultdict(factory: Any = None, *rest: Any) -> collections.defaultdict:
    if factory not in _SAFE_FACTORIES or rest:
        raise RefusedGlobal("collections", "defaultdict", f"factory {factory!r} not allowed")
    return collections.defaultdict(factory)


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    # copyreg._reconstructor is how protocol 0/1 pickles rebuild new-style objects.
    if not (isinstance(cls, type) and issubclass(cls, _Captured)) or base is not object or state is not None:
        raise RefusedGlobal("copyreg", "_reconstructor", f"only for allowed classes, got {cls!r}")
    return cls.__new__(cls)


def _numpy_globals() -> dict[tuple[str, str], Any]:
    try:
        from numpy._core import multiarray as ma
        from numpy._core import numeric as nu
    except ImportError:  # numpy < 2
        from numpy.core import multiarray as ma  # type: ignore[no-redef]
        from numpy.core import numeric as nu  # type: ignore[no-redef]
    out: dict[tuple[str, str], Any] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype}
    for pkg in ("numpy.core", "numpy._core"):
        out[(f"{pkg}.multiarray", "_reconstruct")] = ma._reconstruct
        out[(f"{pkg}.multiarray", "scalar")] = ma.scalar
        if hasattr(nu, "_frombuffer"):
            out[(f"{pkg}.numeric", "_frombuffer")] = nu._frombuffer
    return out


_BUILTINS = {name: getattr(__import__("builtins"), name) for name in (
    "dict", "list", "tuple", "set", "frozenset", "int", "float", "complex", "bool", "str",
    "bytes", "bytearray", "slice", "range", "object")}

_SPARSE_MODULES = ("scipy.sparse.csc", "scipy.sparse._csc", "scipy.sparse.csr", "scipy.sparse._csr",
                   "scipy.sparse._arrays")
_SPARSE_NAMES = ("csc_matrix", "csr_matrix", "csc_array", "csr_array")


class SafeUnpickler(pickle._Unpickler):  # the pure-Python unpickler: we need its dispatch table
    """Allow-list unpickler; also reads joblib's in-stream array payloads."""

    dispatch = pickle._Unpickler.dispatch.copy()

    def __init__(self, file: BinaryIO, *, allow_chumpy: bool = False, allow_sparse: bool = False,
                 encoding: str = "latin1"):
        super().__init__(file, encoding=encoding, fix_imports=True)
        self._fh = file
        self._allow_chumpy = allow_chumpy
        self._allow_sparse = allow_sparse
        self._allowed = _numpy_globals()
        self.used_joblib = False

    def find_class(self, module: str, name: str) -> Any:
        if self.proto < 3:  # Python 2 names (__builtin__, copy_reg, ...)
            if (module, name) in _compat_pickle.NAME_MAPPING:
                module, name = _compat_pickle.NAME_MAPPING[(module, name)]
            elif module in _compat_pickle.IMPORT_MAPPING:
                module = _compat_pickle.IMPORT_MAPPING[module]
        if (module, name) in self._allowed:
            return self._allowed[(module, name)]
        if module == "builtins" and name in _BUILTINS:
            return _BUILTINS[name]
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "collections" and name == "defaultdict":
            return _defaultdict
        if module == "copyreg" and name == "_reconstructor":
            return _reconstructor
        if module == "_codecs" and name == "encode":
            return _latin1_encode
        if module == "joblib.numpy_pickle" and name == "NumpyArrayWrapper":
            self.used_joblib = True
            return _standin(JoblibArrayWrapper, module, name)
        if self._allow_chumpy and (module == "chumpy" or module.startswith("chumpy.")):
            return _standin(ChumpyObject, module, name)
        if self._allow_sparse and module in _SPARSE_MODULES and name in _SPARSE_NAMES:
            return _standin(SparseMatrix, module, name)
        raise RefusedGlobal(module, name)

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not supported")

    def load_build(self) -> None:
        super().load_build()
        if isinstance(self.stack[-1], JoblibArrayWrapper):
            self.stack[-1] = self._read_joblib_array(self.stack[-1])

    dispatch[pickle.BUILD[0]] = load_build

    def _read_joblib_array(self, wrapper: JoblibArrayWrapper) -> np.ndarray:
        st = wrapper.state if isinstance(wrapper.state, dict) else {}
        dtype, shape, order = st.get("dtype"), st.get("shape"), st.get("order", "C")
        if not isinstance(dtype, np.dtype) or not isinstance(shape, tuple) or order not in ("C", "F"):
            raise pickle.UnpicklingError("malformed joblib array header")
        if st.get("subclass", np.ndarray) not in (np.ndarray, np.memmap):
            raise pickle.UnpicklingError(f"joblib array of subclass {st.get('subclass')!r} not supported")
        if dtype.hasobject:  # joblib nests a whole pickle for object arrays: read it with our rules
            inner = SafeUnpickler(self._fh, allow_chumpy=self._allow_chumpy, allow_sparse=self._allow_sparse,
                                  encoding=self.encoding)
            arr = inner.load()
            if not isinstance(arr, np.ndarray):
                raise pickle.UnpicklingError("joblib object array payload is not an array")
            return arr
        if st.get("numpy_array_alignment_bytes") is not None:
            pad = self._fh.read(1)
            if len(pad) != 1:
                raise pickle.UnpicklingError("truncated joblib array padding")
            self._exact(int.from_bytes(pad, "little"))
        count = int(np.prod([int(s) for s in shape], dtype=np.int64))
        if count < 0:
            raise pickle.UnpicklingError("negative array size")
        buf = bytearray()
        need = count * dtype.itemsize
        while len(buf) < need:
            buf += self._exact(min(_READ_CHUNK, need - len(buf)))
        arr = np.frombuffer(bytes(buf), dtype=dtype, count=count)
        arr = arr.reshape(shape[::-1]).T if order == "F" else arr.reshape(shape)
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        return np.array(arr)  # own, writeable memory

    def _exact(self, n: int) -> bytes:
        data = self._fh.read(n)
        if len(data) != n:
            raise pickle.UnpicklingError(f"file ended inside array data ({len(data)} of {n} bytes)")
        return data


# ------------------------------------------------------------- decompression
class _ZlibReader(io.RawIOBase):
    """Streaming reader for joblib's zlib-compressed files (a raw zlib stream)."""

    def __init__(self, fh: BinaryIO):
        self._fh, self._d, self._buf = fh, zlib.decompressobj(), b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf and not self._d.eof:
            chunk = self._fh.read(1 << 20)
            self._buf = self._d.decompress(chunk) if chunk else self._d.flush()
            if not chunk and not self._buf:
                break
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _open_stream(fh: BinaryIO, src: str) -> BinaryIO:
    head = fh.read(8)
    fh.seek(0)
    if head.startswith(b"ZF"):
        raise MotionError("joblib file from before joblib 0.10 (companion-file format) is not supported; "
                          "re-save it with a current joblib", src)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=fh)
    if head.startswith(b"BZh"):
        return bz2.BZ2File(fh)
    if head.startswith(b"\xfd7zXZ") or head.startswith(b"]\x00\x00"):
        return lzma.LZMAFile(fh)
    if head.startswith(b"\x04\"M\x18"):
        raise MotionError("lz4-compressed joblib files are not supported; re-save without lz4", src)
    if head[:1] == b"x" and len(head) > 1 and (head[0] * 256 + head[1]) % 31 == 0:
        return io.BufferedReader(_ZlibReader(fh), buffer_size=1 << 20)
    return fh


# ------------------------------------------------------------------ convert
def chumpy_to_array(obj: ChumpyObject, src: str | None = None, _depth: int = 0) -> np.ndarray:
    """Evaluate a captured chumpy object to a numpy array (plain ``Ch`` and the
    reorderings SMPL-family files contain)."""
    if _depth > 50:
        raise MotionError("chumpy expression nested too deeply", src)
    name = type(obj).source_name
    st = obj.state if isinstance(obj.state, dict) else {}

    def val(x: Any) -> np.ndarray:
        if isinstance(x, ChumpyObject):
            return chumpy_to_array(x, src, _depth + 1)
        arr = np.asarray(x)
        if arr.dtype.hasobject:
            raise MotionError(f"chumpy {name} holds a non-numeric value", src)
        return arr

    try:
        if name == "Ch" and "x" in st:
            return np.array(val(st["x"]))
        if name in ("Reshape", "reshape") and "a" in st:
            return val(st["a"]).reshape(st["newshape"])
        if name == "transpose" and "a" in st:
            return np.ascontiguousarray(np.transpose(val(st["a"]), axes=st.get("axes")))
        if name == "Select" and "a" in st:
            out = val(st["a"]).ravel()[np.asarray(st["idxs"])]
            return out.reshape(st["preferred_shape"]) if "preferred_shape" in st else out
        if name == "Concatenate" and "dterms" in st:
            return np.concatenate([val(st[t]) for t in st["dterms"]], axis=st.get("axis", 0))
    except (KeyError, ValueError, TypeError, IndexError) as e:
        raise MotionError(f"malformed chumpy {name} object ({e})", src) from None
    raise MotionError(f"cannot evaluate chumpy object {type(obj).qualname()} "
                      f"(state keys {sorted(map(str, st))[:6]}); convert the model to .npz with chumpy installed", src)


def sparse_to_array(obj: SparseMatrix, src: str | None = None) -> np.ndarray:
    import scipy.sparse as sp

    st = obj.state if isinstance(obj.state, dict) else {}
    shape = st.get("_shape", st.get("shape"))
    try:
        shape = tuple(int(s) for s in shape)
        data, indices, indptr = (np.asarray(st[k]) for k in ("data", "indices", "indptr"))
        if len(shape) != 2 or shape[0] * shape[1] > MAX_DENSE_ELEMENTS:
            raise ValueError(f"shape {shape} not allowed")
        if data.dtype.hasobject or indices.dtype.hasobject or indptr.dtype.hasobject:
            raise ValueError("non-numeric arrays")
        ctor = sp.csc_matrix if type(obj).source_name.startswith("csc") else sp.csr_matrix
        return ctor((data, indices, indptr), shape=shape).toarray()
    except (KeyError, ValueError, TypeError) as e:
        raise MotionError(f"malformed sparse matrix {type(obj).qualname()} ({e})", src) from None


def _materialize(obj: Any, src: str, memo: dict[int, Any]) -> Any:
    key = id(obj)
    if key in memo:
        return memo[key]
    if isinstance(obj, ChumpyObject):
        out: Any = chumpy_to_array(obj, src)
    elif isinstance(obj, SparseMatrix):
        out = sparse_to_array(obj, src)
    elif isinstance(obj, _Captured):
        raise MotionError(f"unexpected {type(obj).qualname()} object outside an array payload", src)
    elif isinstance(obj, dict):
        out = type(obj)() if type(obj) in (dict, collections.OrderedDict) else dict()
        memo[key] = out
        for k, v in obj.items():
            out[k] = _materialize(v, src, memo)
        return out
    elif isinstance(obj, list):
        out = []
        memo[key] = out
        out.extend(_materialize(v, src, memo) for v in obj)
        return out
    elif isinstance(obj, tuple):
        out = tuple(_materialize(v, src, memo) for v in obj)
    elif isinstance(obj, np.ndarray) and obj.dtype.hasobject:
        out = np.empty(obj.shape, dtype=object)
        for idx in np.ndindex(obj.shape):
            out[idx] = _materialize(obj[idx], src, memo)
    else:
        out = obj
    memo[key] = out
    return out


# --------------------------------------------------------------------- API
def safe_load(path: str | os.PathLike, *, allow_chumpy: bool = False, allow_sparse: bool = False,
              encoding: str = "latin1") -> Any:
    """Load a pickle or joblib file through the allow-list unpickler.

    Returns plain Python containers, numpy arrays and scalars; chumpy and
    sparse stand-ins (when allowed) are converted to dense numpy arrays.
    ``encoding`` applies to Python 2 ``str`` objects (latin-1 keeps numpy's
    raw array bytes intact, as ``np.load`` does)."""
    path = Path(path)
    src = str(path)
    if not path.is_file():
        raise MotionError("no such file", src)
    try:
        with open(path, "rb") as raw:
            stream = _open_stream(raw, src)
            try:
                obj = SafeUnpickler(stream, allow_chumpy=allow_chumpy, allow_sparse=allow_sparse,
                                    encoding=encoding).load()
            finally:
                if stream is not raw:
                    stream.close()
    except RefusedGlobal as e:
        raise MotionError(f"refused to unpickle: the file references the global {e.module}.{e.name} "
                          f"({e.why}); only numpy arrays, plain containers "
                          "and scalars (plus chumpy/scipy.sparse in SMPL models) are loaded", src) from None
    except MotionError:
        raise
    except Exception as e:  # noqa: BLE001 - garbage makes the unpickler fail in many ways (struct.error, ...)
        raise MotionError(f"not a readable pickle/joblib file ({type(e).__name__}: {e})", src) from None
    try:
        return _materialize(obj, src, {})
    except RecursionError:
        raise MotionError("pickle nests containers too deeply", src) from None
