"""Make a robot's MJCF and meshes small enough to ship inside the package.

``python -m motionlib.retarget.robot_assets SRC.xml DST_DIR [--faces N]`` writes ``DST_DIR/<name>.xml``
and its meshes:

* **collision meshes** are replaced by their convex hulls (``meshes/collision/``). MuJoCo collides a mesh
  geom as its convex hull, so contacts, distances and the lowest point on the floor are the same as with the
  full mesh; only the stored triangles go (the geoms' world vertices are unchanged: MuJoCo re-centres every
  mesh and shifts the geom frame to match, which :func:`check_same_collision` verifies on random poses).
* **visual meshes** (geoms that collide with nothing) are decimated by vertex clustering to at most
  ``faces`` triangles each: enough to render the robot, a few percent of the original size.

Bodies keep their explicit ``<inertial>`` elements, so masses and inertias do not depend on the meshes.
Meshes no geom uses are dropped. The license file beside the source travels separately (see
``retarget/robots/``).
"""

from __future__ import annotations

import argparse
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np


# ------------------------------------------------------------------ STL
def read_stl(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(vertices (V, 3), faces (F, 3)) of a binary or ASCII STL, with shared vertices merged."""
    data = path.read_bytes()
    n = struct.unpack_from("<I", data, 80)[0] if len(data) >= 84 else -1
    if n >= 0 and 84 + 50 * n == len(data):
        rec = np.frombuffer(data, dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]),
                            count=n, offset=84)
        tri = rec["v"].astype(np.float64)
    else:
        vals = [list(map(float, ln.split()[1:4])) for ln in data.decode("ascii", "replace").splitlines()
                if ln.strip().startswith("vertex")]
        tri = np.asarray(vals, dtype=np.float64).reshape(-1, 3, 3)
    verts, inv = np.unique(tri.reshape(-1, 3), axis=0, return_inverse=True)
    return verts, inv.reshape(-1, 3)


def write_stl(path: Path, verts: np.ndarray, faces: np.ndarray) -> None:
    tri = verts[faces].astype(np.float32)
    nrm = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    nrm /= np.maximum(np.linalg.norm(nrm, axis=1, keepdims=True), 1e-12)
    rec = np.zeros(len(faces), dtype=np.dtype([("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")]))
    rec["n"], rec["v"] = nrm, tri
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"motionlib robot asset".ljust(80, b" ") + struct.pack("<I", len(faces)) + rec.tobytes())


# ------------------------------------------------------------------ meshes
def convex_hull(verts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The convex hull's vertices and outward-wound triangles."""
    from scipy.spatial import ConvexHull

    hull = ConvexHull(verts)
    faces = hull.simplices.copy()
    centre = verts[hull.vertices].mean(axis=0)
    for i, f in enumerate(faces):  # wind each triangle so its normal points away from the centre
        a, b, c = verts[f]
        if np.dot(np.cross(b - a, c - a), a - centre) < 0:
            faces[i] = f[[0, 2, 1]]
    used = np.unique(faces)
    remap = np.full(len(verts), -1)
    remap[used] = np.arange(len(used))
    return verts[used], remap[faces]


def cluster_decimate(verts: np.ndarray, faces: np.ndarray, max_faces: int) -> tuple[np.ndarray, np.ndarray]:
    """Vertex clustering: snap vertices to a grid (each cell's vertices merged into their mean), drop the
    triangles that collapse; the coarsest cell that leaves at most ``max_faces`` triangles is searched by
    bisection on the cell size."""
    if len(faces) <= max_faces:
        return verts, faces
    extent = float(np.ptp(verts, axis=0).max())

    def cluster(cell: float):
        key = np.floor((verts - verts.min(axis=0)) / cell).astype(np.int64)
        _, label = np.unique(key, axis=0, return_inverse=True)
        label = label.reshape(-1)
        n = label.max() + 1
        new_v = np.zeros((n, 3))
        np.add.at(new_v, label, verts)
        new_v /= np.bincount(label, minlength=n)[:, None]
        f = label[faces]
        keep = (f[:, 0] != f[:, 1]) & (f[:, 1] != f[:, 2]) & (f[:, 0] != f[:, 2])
        f = f[keep]
        _, first = np.unique(np.sort(f, axis=1), axis=0, return_index=True)
        return new_v, f[np.sort(first)]

    lo, hi = extent * 1e-4, extent * 0.5  # lo: (nearly) every triangle; hi: a handful
    best = cluster(hi)
    for _ in range(18):
        mid = np.sqrt(lo * hi)
        v, f = cluster(mid)
        if len(f) <= max_faces:
            hi, best = mid, (v, f)
        else:
            lo = mid
    v, f = best
    used = np.unique(f)
    remap = np.full(len(v), -1)
    remap[used] = np.arange(len(used))
    return v[used], remap[f]


# ------------------------------------------------------------------ MJCF
def _mesh_geoms(model) -> list[tuple[int, bool]]:
    """(mesh id, collides) of every mesh geom, in geom order."""
    import mujoco

    out = []
    for g in range(model.ngeom):
        if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH:
            out.append((int(model.geom_dataid[g]), bool(model.geom_contype[g] or model.geom_conaffinity[g])))
    return out


def shrink_robot(src: Path, dst_dir: Path, max_faces: int = 1200) -> Path:
    """Write the shrunk copy of the MJCF ``src`` into ``dst_dir``; returns the new MJCF's path."""
    import mujoco

    src = Path(src)
    model = mujoco.MjModel.from_xml_path(str(src))
    tree = ET.parse(src)
    root = tree.getroot()
    compiler = root.find("compiler")
    meshdir = src.parent / (compiler.get("meshdir", "") if compiler is not None else "")
    assets = {}
    asset_el = root.find("asset")
    for m in asset_el.findall("mesh"):
        assets[m.get("name") or Path(m.get("file")).stem] = m
    # the geoms in document order are the model's geoms in id order (one body tree, as MJCF compiles it)
    xml_mesh_geoms = [g for g in root.find("worldbody").iter("geom")
                      if g.get("mesh") is not None]
    compiled = _mesh_geoms(model)
    if len(xml_mesh_geoms) != len(compiled):
        raise ValueError(f"{src}: {len(xml_mesh_geoms)} mesh geoms in the XML, {len(compiled)} compiled")
    visual_used, collision_used = set(), set()
    for el, (mesh_id, collides) in zip(xml_mesh_geoms, compiled):
        name = el.get("mesh")
        if mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_MESH, mesh_id) != name:
            raise ValueError(f"{src}: geom order differs from the compiled model at mesh {name!r}")
        if collides:
            collision_used.add(name)
            el.set("mesh", f"{name}_hull")
        else:
            visual_used.add(name)
    out_meshdir = dst_dir / "meshes"
    for name, m in list(assets.items()):
        verts, faces = read_stl(meshdir / m.get("file"))
        stem = Path(m.get("file")).stem
        if name in collision_used:
            hv, hf = convex_hull(verts)
            write_stl(out_meshdir / "collision" / f"{stem}.stl", hv, hf)
            hull = ET.SubElement(asset_el, "mesh", {"name": f"{name}_hull", "file": f"collision/{stem}.stl"})
            if m.get("scale"):
                hull.set("scale", m.get("scale"))
        if name in visual_used:
            dv, df = cluster_decimate(verts, faces, max_faces)
            write_stl(out_meshdir / "visual" / f"{stem}.stl", dv, df)
            m.set("name", name)
            m.set("file", f"visual/{stem}.stl")
            m.set("inertia", "shell")  # a decimated visual mesh need not enclose a volume
        else:
            asset_el.remove(m)
    if compiler is None:
        compiler = ET.SubElement(root, "compiler")
    compiler.set("meshdir", "meshes")
    dst_dir.mkdir(parents=True, exist_ok=True)
    out = dst_dir / src.name
    ET.indent(tree)
    tree.write(out, encoding="unicode")
    check_same_collision(src, out)
    return out


def check_same_collision(a: Path, b: Path, poses: int = 20, tol: float = 1e-5, seed: int = 0) -> float:
    """Largest difference of the world-frame axis-aligned extents of every colliding geom between two
    MJCFs over random joint positions (within limits); raises when it exceeds ``tol`` metres."""
    import mujoco

    ma, mb = mujoco.MjModel.from_xml_path(str(a)), mujoco.MjModel.from_xml_path(str(b))
    da, db = mujoco.MjData(ma), mujoco.MjData(mb)
    rng = np.random.default_rng(seed)
    coll = [g for g in range(ma.ngeom) if ma.geom_contype[g] or ma.geom_conaffinity[g]]
    worst = 0.0
    for _ in range(poses):
        q = ma.qpos0.copy()
        for j in range(ma.njnt):
            if ma.jnt_limited[j]:
                lo, hi = ma.jnt_range[j]
                q[ma.jnt_qposadr[j]] = rng.uniform(lo, hi)
        da.qpos[:] = q
        db.qpos[:] = q
        mujoco.mj_kinematics(ma, da)
        mujoco.mj_kinematics(mb, db)
        for g in coll:
            worst = max(worst, float(np.abs(_extent(ma, da, g) - _extent(mb, db, g)).max()))
    if worst > tol:
        raise ValueError(f"{b}: collision geometry differs from {a} by {worst * 1000:.3f} mm")
    return worst


def _extent(model, data, g: int) -> np.ndarray:
    """(min xyz, max xyz) of geom ``g``'s vertices in the world (its own size for primitives)."""
    import mujoco

    if model.geom_type[g] != mujoco.mjtGeom.mjGEOM_MESH:
        return np.concatenate([data.geom_xpos[g], model.geom_size[g]])
    mid = model.geom_dataid[g]
    adr, n = model.mesh_vertadr[mid], model.mesh_vertnum[mid]
    v = model.mesh_vert[adr:adr + n] @ data.geom_xmat[g].reshape(3, 3).T + data.geom_xpos[g]
    return np.concatenate([v.min(axis=0), v.max(axis=0)])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src", type=Path, help="the robot's MJCF")
    ap.add_argument("dst", type=Path, help="folder for the shrunk MJCF and its meshes")
    ap.add_argument("--faces", type=int, default=1200, help="most triangles per visual mesh")
    args = ap.parse_args(argv)
    out = shrink_robot(args.src, args.dst, args.faces)
    size = sum(f.stat().st_size for f in args.dst.rglob("*") if f.is_file())
    print(f"{out} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
