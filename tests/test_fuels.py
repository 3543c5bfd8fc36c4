"""qagent.fuels: the code lists and the texts that name codes derive from the compiled table."""

from qagent import fuels
from qagent.fire import fuel_models


def test_format_ranges():
    assert fuels.format_ranges([5, 1, 2, 3, 92, 91]) == "1-3, 5, 91-92"
    assert fuels.format_ranges([]) == ""


def test_code_lists_partition_the_table():
    known = fuels.known_codes()
    assert set(fuels.burnable_codes()) | set(fuels.non_burnable_codes()) == known
    assert set(fuels.anderson_codes()) | set(fuels.scott_burgan_codes()) == set(fuels.burnable_codes())
    assert fuels.product_codes("F13") == set(fuels.anderson_codes()) | set(fuels.non_burnable_codes())
    families = [c for f in fuels.SCOTT_BURGAN_FAMILIES for c in fuels.family_codes(f)]
    assert sorted(families) == list(fuels.scott_burgan_codes())
    assert {c for g in fuels.ANDERSON_GROUPS.values() for c in g} == set(fuels.anderson_codes())


def test_texts_name_the_table_codes():
    assert fuels.known_codes_text() == ("Anderson 1-13, Scott & Burgan 101-109, 121-124, 141-149, 161-165, "
                                        "181-189, 201-204 and non-burnable 91-99")
    assert fuels.product_codes_text("F13") == "Anderson 13 (F13) codes are 1-13, 91-99"


def test_the_fire_layer_view_is_the_same_table():
    assert fuel_models.known_codes() == fuels.known_codes()
    assert fuel_models.FUEL_MODEL_NAMES[101] == "GR1" and fuel_models.FUEL_MODEL_NAMES[98] == "NB8 open water"
    assert fuel_models.FUEL_MODEL_NAMES[13] == "FM13" and fuel_models.FUEL_MODEL_NAMES[94] == "NB (reserved)"
