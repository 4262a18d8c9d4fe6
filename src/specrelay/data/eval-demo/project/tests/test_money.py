import unittest

from cartkit import format_price


class FormatPriceTest(unittest.TestCase):
    def test_dollars_and_cents(self):
        self.assertEqual(format_price(1234), "$12.34")

    def test_negative(self):
        self.assertEqual(format_price(-5), "-$0.05")


if __name__ == "__main__":
    unittest.main()
