import unittest

from cartkit import apply_discount, format_price, split_evenly


class FormatPriceTest(unittest.TestCase):
    def test_dollars_and_cents(self):
        self.assertEqual(format_price(1234), "$12.34")

    def test_negative(self):
        self.assertEqual(format_price(-5), "-$0.05")


class ApplyDiscountTest(unittest.TestCase):
    def test_rounds_to_the_nearest_cent(self):
        self.assertEqual(apply_discount(999, 10), 899)
        self.assertEqual(apply_discount(1005, 50), 503)

    def test_no_and_full_discount(self):
        self.assertEqual(apply_discount(1234, 0), 1234)
        self.assertEqual(apply_discount(1234, 100), 0)

    def test_percent_out_of_range(self):
        for percent in (-1, 101):
            with self.subTest(percent=percent), self.assertRaises(ValueError):
                apply_discount(100, percent)


class SplitEvenlyTest(unittest.TestCase):
    def test_shares_add_up_larger_first(self):
        self.assertEqual(split_evenly(1000, 3), [334, 333, 333])

    def test_exact_split(self):
        self.assertEqual(split_evenly(900, 3), [300, 300, 300])

    def test_one_part(self):
        self.assertEqual(split_evenly(5, 1), [5])

    def test_needs_a_part(self):
        with self.assertRaises(ValueError):
            split_evenly(100, 0)


if __name__ == "__main__":
    unittest.main()
