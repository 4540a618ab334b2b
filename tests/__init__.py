"""The project's tests; a helper's failed ``assert`` shows its values as a test's does."""

import pytest

pytest.register_assert_rewrite("tests.helpers")
