"""What several test suites share (on sys.path through pytest's `pythonpath`)."""

import textwrap

SAMPLE = textwrap.dedent(
    '''\
    import math


    def area(radius):
        # TODO: validate radius
        return math.pi * radius ** 2


    def perimeter(radius):
        return 2 * math.pi * radius
    '''
)

# The two default aliases keep their names and model IDs but answer offline.
MOCK_USER_CONFIG = textwrap.dedent(
    """\
    [models.codex]
    provider = "mock"
    model = "gpt-5.3-codex"

    [models.opus]
    provider = "mock"
    model = "claude-opus-4-6"
    """
)
