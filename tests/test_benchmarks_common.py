"""``benchmarks.common``: what a result file says about the device."""

from benchmarks.common import vector_extensions


def test_the_vector_level_names_vnni_which_decides_int8_results():
    assert vector_extensions({"avx2", "fma"}) == "AVX2"
    assert vector_extensions({"avx2", "avx_vnni"}) == "AVX2 + VNNI"
    assert vector_extensions({"avx2", "avx512f", "avx512bw"}) == "AVX-512"
    assert vector_extensions({"avx2", "avx512f", "avx512_vnni"}) == "AVX-512 + VNNI"
    assert vector_extensions({"neon"}) == ""
