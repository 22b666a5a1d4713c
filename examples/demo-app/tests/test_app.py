import unittest

from app import greet


class GreetTest(unittest.TestCase):
    def test_greets_by_name(self):
        self.assertEqual(greet("Conveyor"), "Hello, Conveyor!")


if __name__ == "__main__":
    unittest.main()
