"""Offscreen robot rendering: a robot clip drawn by MuJoCo with the robot's meshes, optionally beside
the source human clip (``motion.render``'s skeleton), to .mp4 or one frame to .png.

* **GL.** MuJoCo draws into an offscreen framebuffer of its own OpenGL context. The backend is
  ``MUJOCO_GL`` when that names one (``egl``, ``osmesa``, ``glfw``), else EGL (GPU or Mesa's software
  rasteriser, no display needed), then OSMesa. When none opens, :class:`OffscreenGLError` says what
  each attempt gave; :func:`offscreen_gl_available` asks without raising.
* **Scene.** The robot's MJCF (from its description) plus a checkered floor at z = 0, a gradient sky,
  a directional light casting shadows and a soft headlight. Only the robot's visual geoms are drawn
  (those that collide with nothing; collision hulls and the retargeting sites are hidden); a robot
  whose MJCF has no separate visual geoms is drawn with its collision geoms.
* **Camera.** It looks at the root (horizontally) from the skeleton renderer's default direction
  (``motion.render.RenderConfig``'s azimuth and elevation), far enough that the robot's full height
  fits; ``follow=False`` frames the whole clip instead.
* **Side by side.** With the human clip, each frame is the robot panel and the skeleton panel of the
  same time, left to right; the clips must have the same frame rate and frame count (a robot clip has
  its source clip's).

Frame ``k`` of a video is robot frame ``k * stride``; writing is atomic (``motion.atomic``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from motionlib.motion.errors import MotionError
from motionlib.motion.render import checked_video_options, write_mp4, write_png

from .description import RobotDescription, load_description
from .robot_clip import RobotClip

BACKENDS = ("egl", "osmesa", "glfw")
SKY_TOP, SKY_BOTTOM = (0.80, 0.86, 0.93), (0.97, 0.98, 1.0)
FLOOR_A, FLOOR_B = (0.72, 0.73, 0.74), (0.58, 0.60, 0.62)
VISUAL_GROUP, HIDDEN_GROUP, FLOOR_GROUP = 1, 4, 0
SCENE_EXTENT_M = 2.5


class OffscreenGLError(OSError):
    """No OpenGL context could be made for offscreen rendering."""


@dataclass
class RobotRenderConfig:
    """How to render. ``size`` is the whole frame in pixels (rounded down to even numbers for H.264),
    the robot panel and the human panel sharing its width when the human is shown; ``fps`` is the
    video's rate (default: clip fps / stride, real time). ``azimuth`` / ``elevation`` are MuJoCo's
    camera angles in degrees (the defaults look from the skeleton renderer's direction);
    ``distance`` is metres from the root (default: the robot's height fits the frame)."""

    size: tuple[int, int] = (640, 480)
    fps: float | None = None
    stride: int = 1
    follow: bool = True
    azimuth: float = 118.0
    elevation: float = -12.0
    distance: float | None = None
    fovy: float = 45.0
    shadows: bool = True
    label: bool = True

    def __post_init__(self) -> None:
        self.size, self.stride = checked_video_options(self.size, self.stride, self.fps)
        if self.distance is not None and not self.distance > 0:
            raise ValueError(f"camera distance must be > 0, got {self.distance}")


# ------------------------------------------------------------------------------------------ GL
def _backend_order() -> list[str]:
    chosen = os.environ.get("MUJOCO_GL", "").lower().strip()
    return [chosen] if chosen in BACKENDS else ["egl", "osmesa"]


def _make_context(backend: str, width: int, height: int):
    if backend == "egl":
        from mujoco.egl import GLContext
    elif backend == "osmesa":
        from mujoco.osmesa import GLContext
    else:
        from mujoco.glfw import GLContext
    ctx = GLContext(width, height)
    ctx.make_current()
    return ctx


def open_gl_context(width: int, height: int):
    """An offscreen OpenGL context (made current) of the first backend that works; ``(ctx, backend)``."""
    tried = []
    for backend in _backend_order():
        try:
            return _make_context(backend, width, height), backend
        except Exception as e:  # a missing library raises ImportError, OSError, RuntimeError, ...
            tried.append(f"{backend}: {type(e).__name__}: {e}".strip())
    raise OffscreenGLError("no offscreen OpenGL for MuJoCo (" + "; ".join(tried) + "); install EGL (libegl1, "
                           "with a GPU driver or Mesa) or OSMesa (libosmesa6), or set MUJOCO_GL")


def offscreen_gl_available() -> bool:
    """Whether an offscreen OpenGL context and a MuJoCo render context can be made here."""
    import mujoco

    try:
        ctx, _ = open_gl_context(64, 64)
    except OffscreenGLError:
        return False
    try:
        model = mujoco.MjModel.from_xml_string("<mujoco><worldbody><geom size='.1'/></worldbody></mujoco>")
        con = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_100)
        con.free()
        return True
    except Exception:
        return False
    finally:
        ctx.free()


# ---------------------------------------------------------------------------------------- scene
def scene_model(desc: RobotDescription, width: int, height: int):
    """The robot's MJCF with a floor, sky and lights, its offscreen buffer ``width`` x ``height``, and its
    geoms regrouped: visual geoms in ``VISUAL_GROUP``, the rest in ``HIDDEN_GROUP``."""
    import mujoco

    try:
        spec = mujoco.MjSpec.from_file(str(desc.mjcf))
    except (ValueError, OSError) as e:
        raise MotionError(f"cannot load the robot's MJCF ({e})", str(desc.mjcf)) from None
    spec.visual.global_.offwidth = max(int(width), 64)
    spec.visual.global_.offheight = max(int(height), 64)
    spec.visual.headlight.ambient = [0.3, 0.3, 0.3]
    spec.visual.headlight.diffuse = [0.3, 0.3, 0.3]
    spec.visual.headlight.specular = [0.1, 0.1, 0.1]
    spec.visual.quality.shadowsize = 2048  # larger maps are markedly slower in software GL
    spec.visual.map.znear = 0.01
    spec.add_texture(name="motionlib_sky", type=mujoco.mjtTexture.mjTEXTURE_SKYBOX,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_GRADIENT, rgb1=list(SKY_TOP), rgb2=list(SKY_BOTTOM),
                     width=256, height=1536)
    spec.add_texture(name="motionlib_floor", type=mujoco.mjtTexture.mjTEXTURE_2D,
                     builtin=mujoco.mjtBuiltin.mjBUILTIN_CHECKER, rgb1=list(FLOOR_A), rgb2=list(FLOOR_B),
                     mark=mujoco.mjtMark.mjMARK_EDGE, markrgb=[0.6, 0.62, 0.64], width=256, height=256)
    textures = [""] * int(mujoco.mjtTextureRole.mjNTEXROLE)
    textures[int(mujoco.mjtTextureRole.mjTEXROLE_RGB)] = "motionlib_floor"
    spec.add_material(name="motionlib_floor", textures=textures, texrepeat=[1, 1], texuniform=True)
    spec.worldbody.add_geom(name="motionlib_floor", type=mujoco.mjtGeom.mjGEOM_PLANE, size=[0, 0, 0.05],
                            material="motionlib_floor", contype=0, conaffinity=0, group=FLOOR_GROUP)
    # the sun follows the robot (its root's subtree), so the robot stays inside the light's shadow map
    light = spec.body(desc.root_body).add_light(name="motionlib_sun", pos=[0.7, -0.5, 3.0], dir=[-0.25, 0.2, -1.0],
                                                castshadow=True, diffuse=[0.5, 0.5, 0.5],
                                                specular=[0.1, 0.1, 0.1], ambient=[0.05, 0.05, 0.05])
    light.type = mujoco.mjtLightType.mjLIGHT_DIRECTIONAL
    light.mode = mujoco.mjtCamLight.mjCAMLIGHT_TRACKCOM
    model = spec.compile()
    # the shadow map and clip planes scale with the model's extent: that of a humanoid, not of a
    # placeholder body far away (H1's ``not_use_body`` sits 20 m up)
    model.stat.extent = SCENE_EXTENT_M
    robot_geoms = np.arange(model.ngeom) != mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, "motionlib_floor")
    visual = robot_geoms & (model.geom_contype == 0) & (model.geom_conaffinity == 0)
    if not visual.any():  # no separate visual meshes: show what collides
        visual = robot_geoms
    model.geom_group[robot_geoms] = HIDDEN_GROUP
    model.geom_group[visual] = VISUAL_GROUP
    return model


def clip_qpos(model, clip: RobotClip, source: str = "") -> np.ndarray:
    """(T, nq) qpos of the clip: its root pose on the model's free joint, its joints by name."""
    import mujoco

    free = [j for j in range(model.njnt) if model.jnt_type[j] == mujoco.mjtJoint.mjJNT_FREE]
    if len(free) != 1:
        raise MotionError(f"the robot model has {len(free)} free joints (needs one root)", source)
    q = np.tile(model.qpos0, (clip.num_frames, 1))
    r = int(model.jnt_qposadr[free[0]])
    q[:, r:r + 3] = clip.root_pos
    q[:, r + 3:r + 7] = clip.root_quat / np.linalg.norm(clip.root_quat, axis=1, keepdims=True)
    for k, name in enumerate(clip.joint_names):
        j = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
        if j < 0:
            raise MotionError(f"joint {name!r} of the clip is not in the robot's MJCF", source)
        q[:, model.jnt_qposadr[j]] = clip.joint_pos[:, k]
    return q


def load_clip_for_render(path: str | Path, robot: str | Path | None = None, fps: float | None = None) -> RobotClip:
    """A robot clip from its ``.npz`` or from a GMR / BeyondMimic ``.csv`` (root x y z, root quaternion
    x y z w, joint positions in the description's actuator order), which needs ``robot`` and ``fps``."""
    from .robot_clip import from_qpos, load_robot_clip
    from .robot_model import RobotModel

    path = Path(path)
    if not path.is_file():
        raise MotionError("no such file", str(path))
    if path.suffix.lower() != ".csv":
        return load_robot_clip(path)
    if robot is None or fps is None:
        raise MotionError("a robot clip .csv needs the robot (--robot) and its frame rate (--fps)", str(path))
    desc = load_description(robot)
    try:
        rows = np.loadtxt(path, delimiter=",", ndmin=2)
    except ValueError as e:
        raise MotionError(f"cannot read the CSV ({e})", str(path)) from None
    if rows.shape[1] != 7 + len(desc.joint_names) or not np.isfinite(rows).all():
        raise MotionError(f"expected {7 + len(desc.joint_names)} finite columns for {desc.name} (root xyz, "
                          f"quaternion xyzw, {len(desc.joint_names)} joints), got {rows.shape[1]}", str(path))
    model = RobotModel(desc)
    qpos = np.tile(model.qpos_zero, (len(rows), 1))
    r = model.root_qpos
    qpos[:, r:r + 3] = rows[:, :3]
    qpos[:, r + 3:r + 7] = rows[:, [6, 3, 4, 5]]
    qpos[:, model.joint_qpos] = rows[:, 7:]
    return from_qpos(model, qpos, fps, {"source": str(path)})


class RobotRenderer:
    """A robot clip's MuJoCo scene in an offscreen context of ``width`` x ``height`` pixels."""

    def __init__(self, clip: RobotClip, width: int, height: int, cfg: RobotRenderConfig,
                 desc: RobotDescription | None = None, source: str = "") -> None:
        import mujoco

        self.clip, self.cfg, self.width, self.height = clip, cfg, int(width), int(height)
        self.desc = desc or load_description(clip.robot)
        self.model = scene_model(self.desc, self.width, self.height)
        self.data = mujoco.MjData(self.model)
        self.qpos = clip_qpos(self.model, clip, source)
        self.ctx, self.backend = open_gl_context(self.width, self.height)
        try:
            self.con = mujoco.MjrContext(self.model, mujoco.mjtFontScale.mjFONTSCALE_150)
        except Exception as e:
            self.ctx.free()
            raise OffscreenGLError(f"MuJoCo cannot render with {self.backend} ({e})") from None
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self.con)
        self.scene = mujoco.MjvScene(self.model, maxgeom=2000)
        self.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = bool(cfg.shadows)
        self.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = False
        self.opt = mujoco.MjvOption()
        self.opt.geomgroup[:] = 0
        self.opt.geomgroup[VISUAL_GROUP] = self.opt.geomgroup[FLOOR_GROUP] = 1
        self.opt.sitegroup[:] = 0
        self.cam = mujoco.MjvCamera()
        self.cam.type = mujoco.mjtCamera.mjCAMERA_FREE
        self.cam.azimuth, self.cam.elevation = cfg.azimuth, cfg.elevation
        self.model.vis.global_.fovy = cfg.fovy
        self._frame_camera()
        self.rect = mujoco.MjrRect(0, 0, self.width, self.height)
        self.rgb = np.empty((self.height, self.width, 3), dtype=np.uint8)

    def _visual_top(self, samples: int = 24) -> float:
        """The highest point of the robot's visible geoms over up to ``samples`` frames of the clip."""
        import mujoco

        m, d = self.model, self.data
        geoms = np.flatnonzero(m.geom_group == VISUAL_GROUP)
        top = 0.0
        for f in np.unique(np.linspace(0, self.clip.num_frames - 1, samples).round().astype(int)):
            d.qpos[:] = self.qpos[f]
            mujoco.mj_kinematics(m, d)
            for g in geoms:
                if m.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH:
                    mid = m.geom_dataid[g]
                    v = m.mesh_vert[m.mesh_vertadr[mid]:m.mesh_vertadr[mid] + m.mesh_vertnum[mid]]
                    z = float(np.max(v @ d.geom_xmat[g].reshape(3, 3)[2])) + d.geom_xpos[g, 2]
                else:
                    z = d.geom_xpos[g, 2] + m.geom_rbound[g]
                top = max(top, float(z))
        return top

    def _frame_camera(self) -> None:
        """Look-at height and distance so the robot's full height (and, fixed, its whole path) fits."""
        top = max(self._visual_top() + 0.05, 0.5)
        self.top = top
        self.look_z = 0.5 * top
        half_h = np.tan(np.radians(self.cfg.fovy) / 2)
        half_w = half_h * self.width / self.height
        need = (0.5 * top + 0.25) / half_h  # vertical: the full height plus a margin
        root = self.clip.root_pos
        if self.cfg.follow:
            self.centre = None
        else:
            lo, hi = root[:, :2].min(axis=0), root[:, :2].max(axis=0)
            self.centre = (lo + hi) / 2
            need = max(need, (0.5 * float(np.max(hi - lo)) + 0.6) / min(half_w, half_h) * 1.1)
        self.distance = float(self.cfg.distance or need)

    def draw_frame(self, f: int) -> np.ndarray:
        """Render frame ``f`` of the clip; returns an (H, W, 3) uint8 image (a view, copy to keep)."""
        import mujoco

        self.ctx.make_current()
        self.data.qpos[:] = self.qpos[f]
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_comPos(self.model, self.data)  # the subtree centre the sun tracks
        mujoco.mj_camlight(self.model, self.data)
        xy = self.clip.root_pos[f, :2] if self.centre is None else self.centre
        self.cam.lookat[:] = (float(xy[0]), float(xy[1]), self.look_z)
        self.cam.distance = self.distance
        mujoco.mjv_updateScene(self.model, self.data, self.opt, None, self.cam,
                               mujoco.mjtCatBit.mjCAT_ALL, self.scene)
        mujoco.mjr_render(self.rect, self.scene, self.con)
        if self.cfg.label:
            mujoco.mjr_overlay(mujoco.mjtFont.mjFONT_NORMAL, mujoco.mjtGridPos.mjGRID_TOPLEFT, self.rect,
                               f"{self.clip.robot}   frame {f}/{self.clip.num_frames - 1}", "", self.con)
        mujoco.mjr_readPixels(self.rgb, None, self.rect, self.con)
        return self.rgb[::-1]

    def close(self) -> None:
        if getattr(self, "con", None) is not None:
            self.con.free()
            self.con = None
        if getattr(self, "ctx", None) is not None:
            self.ctx.free()
            self.ctx = None


class RobotVideoRenderer:
    """The robot panel, and the human skeleton panel beside it when a human clip is given."""

    def __init__(self, clip: RobotClip, cfg: RobotRenderConfig | None = None, human=None,
                 desc: RobotDescription | None = None, source: str = "", human_source: str = "") -> None:
        from motionlib.motion.render import RenderConfig, SkeletonRenderer

        self.cfg = cfg or RobotRenderConfig()
        self.clip, self.human = clip, human
        w, h = self.cfg.size
        if clip.num_frames < 1:
            raise MotionError("the robot clip has no frames", source)
        self.skeleton = None
        robot_w = w
        if human is not None:
            if abs(float(human.fps) - clip.fps) > 1e-6 or human.num_frames != clip.num_frames:
                raise MotionError(f"the human clip ({human.num_frames} frames at {human.fps:g} fps) does not match "
                                  f"the robot clip {source or ''} ({clip.num_frames} frames at {clip.fps:g} fps)",
                                  human_source)
            robot_w = (w // 2) - (w // 2) % 2
            self.skeleton = SkeletonRenderer([human], RenderConfig(size=(w - robot_w, h), follow=self.cfg.follow))
        self.robot = RobotRenderer(clip, robot_w, h, self.cfg, desc, source)

    def frames(self) -> np.ndarray:
        return np.arange(0, self.clip.num_frames, self.cfg.stride)

    def draw(self, f: int) -> np.ndarray:
        img = self.robot.draw_frame(int(f))
        if self.skeleton is None:
            return np.ascontiguousarray(img)
        return np.ascontiguousarray(np.concatenate([img, self.skeleton.draw(f / self.clip.fps)], axis=1))

    def close(self) -> None:
        self.robot.close()
        if self.skeleton is not None:
            self.skeleton.close()


def render_robot_video(clip: RobotClip, path: str | Path, cfg: RobotRenderConfig | None = None, human=None,
                       desc: RobotDescription | None = None, progress: bool = True, source: str = "",
                       human_source: str = "") -> dict:
    """Render ``clip`` (beside ``human``, a ``Motion``, when given) to an .mp4 at ``path``, atomically.
    Returns ``{"path", "frames", "fps", "size", "seconds", "render_fps", "backend"}``."""
    cfg = cfg or RobotRenderConfig()
    r = RobotVideoRenderer(clip, cfg, human, desc, source, human_source)
    frames = r.frames()
    fps = cfg.fps or clip.fps / cfg.stride
    try:
        info = write_mp4(path, cfg.size, fps, (r.draw(int(f)) for f in frames), len(frames), progress)
    finally:
        r.close()
    return {**info, "backend": r.robot.backend}


def render_robot_png(clip: RobotClip, frame: int, path: str | Path, cfg: RobotRenderConfig | None = None,
                     human=None, desc: RobotDescription | None = None, source: str = "",
                     human_source: str = "") -> Path:
    """Save frame ``frame`` of ``clip`` (beside the same frame of ``human`` when given) as a PNG, atomically."""
    n = clip.num_frames
    if not -n <= frame < n:
        raise MotionError(f"frame {frame} is out of range (clip has {n} frames)", source)
    r = RobotVideoRenderer(clip, cfg, human, desc, source, human_source)
    try:
        img = r.draw(frame % n)
    finally:
        r.close()
    return write_png(path, img)
