"""The keypoint map YAML: the shipped G1 map loads, and each kind of mistake is a clear InputError."""

from pathlib import Path

import pytest
import yaml

from a2m_core.errors import InputError
from a2m_core.motion.skeleton import HUMANML3D
from a2m_core.retarget.keypoint_map import load_keypoint_map

G1_MAP = Path(__file__).resolve().parents[2] / "config" / "retarget" / "unitree_g1.yaml"

BODY = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_foot",
        "right_foot", "spine3", "head", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
        "left_wrist", "right_wrist")


def test_shipped_g1_map_covers_the_body(g1_map):
    assert set(g1_map.keypoint_names) == set(BODY)
    assert {f.side for f in g1_map.feet} == {"left", "right"}
    pelvis = g1_map.keypoints[g1_map.keypoint_names.index("pelvis")]
    assert pelvis.orientation_weight > 0 and pelvis.orientation[0] == ("y", ("right_hip", "left_hip"))


def test_shipped_g1_map_names_only_links_of_the_g1(g1, g1_map):
    g1_map.check_links(g1.has_link)  # raises on a missing link


def _write(tmp_path, raw):
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


@pytest.fixture
def raw_map():
    return yaml.safe_load(G1_MAP.read_text())


def test_link_missing_from_the_urdf_is_named(tmp_path, raw_map, g1):
    raw_map["keypoints"][3]["link"] = "left_shin_link"
    kmap = load_keypoint_map(_write(tmp_path, raw_map), HUMANML3D)
    with pytest.raises(InputError, match="left_shin_link"):
        kmap.check_links(g1.has_link)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["keypoints"][0].update(human="hips"), "unknown human joint 'hips'"),
    (lambda m: m["keypoints"][0].update(position_weight=-1), "position_weight must be a number >= 0"),
    (lambda m: m["keypoints"][0].update(orientation={"y": ["right_hip", "left_hip"]}), "two of the link axes"),
    (lambda m: m["keypoints"][0].update(orientation={"y": ["right_hip", "nose"], "z": "up"}), "orientation axis y"),
    (lambda m: m["keypoints"][1].update(offset=[0, 1]), "offset must be a list of 3"),
    (lambda m: m["keypoints"].append(dict(m["keypoints"][1])), "more than once"),
    (lambda m: m.pop("feet"), "feet"),
    (lambda m: m["feet"]["left"].update(sole_points=[]), "sole_points"),
    (lambda m: m.update(keypoints=[]), "non-empty `keypoints:`"),
    (lambda m: m["keypoints"][1].update(offset=[0, 1e9, 0]), "more than 10 m from its link"),
    (lambda m: m["keypoints"][0].update(position_weight=1e300), "exceeds the limit"),
    (lambda m: m["feet"]["left"].update(sole_points=[[0, 0, 0]] * 100), "1 to 64"),
    (lambda m: m["keypoints"][1].update(offset=[0, "a", {}]), "offset must be a list of 3"),
    (lambda m: m["feet"]["left"].update(human_joints=["left_knee"]) or m["keypoints"].pop(3), "none of its human_joints"),
    (lambda m: m["keypoints"][2].update(postion_weight=2.0), r"keypoints\[2\]: unknown keys \['postion_weight'\]"),
    (lambda m: m["keypoints"][2].pop("link"), r"keypoints\[2\]: missing `link:`"),
    (lambda m: m["feet"]["right"].pop("human_joints"), r"feet.right: missing `human_joints:`"),
])
def test_bad_maps_say_what_is_wrong(tmp_path, raw_map, edit, message):
    edit(raw_map)
    with pytest.raises(InputError, match=message):
        load_keypoint_map(_write(tmp_path, raw_map), HUMANML3D)


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(InputError, match="no such keypoint map"):
        load_keypoint_map(tmp_path / "absent.yaml", HUMANML3D)
    bad = tmp_path / "bad.yaml"
    bad.write_text("keypoints: [unclosed")
    with pytest.raises(InputError, match="not valid YAML"):
        load_keypoint_map(bad, HUMANML3D)


def test_file_too_big_for_a_map_is_refused_unread(tmp_path):
    huge = tmp_path / "huge.yaml"
    with open(huge, "wb") as fh:
        fh.truncate(50_000_000)  # sparse: a 50 MB "map"
    with pytest.raises(InputError, match="too big for a keypoint map"):
        load_keypoint_map(huge, HUMANML3D)
