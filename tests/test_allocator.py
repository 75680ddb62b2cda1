"""``import zoo`` picks TensorFlow's pooling CPU allocator before TensorFlow runs an op, and a
user's own choice wins (``zoo.kernel.pool_cpu_memory``). Holds on every machine of this kind:
the default allocator's memory info raises on some and answers on others, so only the pooled
one's answer is asserted."""

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, zoo, tensorflow as tf
with tf.device("CPU:0"):
    probe = tf.zeros((1024,)) + 1
try:
    peak = tf.config.experimental.get_memory_info("CPU:0")["peak"]
except ValueError:
    peak = None
from zoo.kernel import cpu_memory_pooled
print(json.dumps({"pooled": cpu_memory_pooled(), "peak": peak}))
"""


def probe_fresh_process(setting):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    if setting is not None:
        env["TF_CPU_ALLOCATOR_USE_BFC"] = setting
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("setting, expected", [(None, True), ("false", False), ("true", True)])
def test_import_zoo_pools_cpu_memory_unless_the_user_chose(setting, expected):
    answer = probe_fresh_process(setting)
    assert answer["pooled"] is expected
    if expected:  # the pooling allocator counts what it holds, on every machine
        assert answer["peak"] and answer["peak"] >= 4096
