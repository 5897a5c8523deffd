"""motionlib.retarget: human motion onto humanoid robots (docs/robots.md).

* ``description``: a robot's description (JSON beside its MJCF): targets, scales, standing pose, gains,
  limits, feet, collision pairs; ``robots/`` ships Unitree G1 and H1.
* ``robot_model``: the robot's MuJoCo model and its geometry queries (sole points, lowest point,
  self-contacts); ``robot_assets``: shrinking an MJCF's meshes to ship it.
* ``scaling``: the human's keypoints scaled to the robot, feet held while planted.
* ``ik``: ``Retargeter``, mink IK over a whole clip; ``collision``: the separating collision limit.
* ``robot_clip``: the BeyondMimic / mjlab NPZ and the CSV export; ``report``: per-clip figures and totals;
  ``batch``: clip files into a folder, resumable (``motionlib retarget``).
* ``chain``: one input file through ingest, refine, retarget, export, playback and video
  (``motionlib robot``).
"""
