import pytest

# the destination checks in builder.py are shared with the benchmark; rewrite their asserts
pytest.register_assert_rewrite("tests.sync.builder")
