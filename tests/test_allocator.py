"""``import zoo`` picks TensorFlow's pooling CPU allocator before TensorFlow runs an op, and a
user's own choice wins (``zoo.kernel.pool_cpu_memory``)."""

import os
import subprocess
import sys

import pytest

PROBE = "import zoo, tensorflow as tf; tf.constant(1.0) + 1; from zoo.kernel import cpu_memory_pooled; print(cpu_memory_pooled())"


def pooled_in_fresh_process(setting):
    env = {k: v for k, v in os.environ.items() if k != "TF_CPU_ALLOCATOR_USE_BFC"}
    if setting is not None:
        env["TF_CPU_ALLOCATOR_USE_BFC"] = setting
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    return result.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("setting, expected", [(None, "True"), ("false", "False")])
def test_import_zoo_pools_cpu_memory_unless_the_user_chose(setting, expected):
    assert pooled_in_fresh_process(setting) == expected
