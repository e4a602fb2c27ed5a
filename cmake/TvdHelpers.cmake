# Helpers every module uses to declare tests, fuzz targets and benchmarks the
# same way.

# tvd_add_test(NAME SOURCES a.cc b.cc LIBS lib... [LABELS unit|integration|e2e]
#              [PROPERTIES prop value ...])
# Builds a GoogleTest binary and registers each TEST as its own ctest test,
# labelled (default "unit"), discovered when ctest runs.
function(tvd_add_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS;PROPERTIES" ${ARGN})
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(${name} ${T_SOURCES})
  # Test files compile in batches (CMake unity build): each repeats the same
  # heavy headers (GoogleTest, GoogleMock, the module's), which were most of
  # a test file's compile time. Names at file scope must therefore be unique
  # within a test binary.
  set_target_properties(${name} PROPERTIES UNITY_BUILD ${TVD_UNITY_TESTS}
                                           UNITY_BUILD_BATCH_SIZE 8)
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gmock
                                        GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    TVD_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    TVD_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${name}
    DISCOVERY_MODE PRE_TEST
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${T_LABELS}" ${T_PROPERTIES})
endfunction()

# tvd_add_fuzzer(NAME SOURCES f.cc LIBS lib... CORPUS dir [SECONDS n])
# The source defines LLVMFuzzerTestOneInput. With TVD_FUZZ (clang) it links
# libFuzzer and the test fuzzes for SECONDS from the seed corpus; otherwise it
# links a replay driver and the test runs every seed once, so the target is
# always compiled and its seeds always checked.
function(tvd_add_fuzzer name)
  cmake_parse_arguments(F "" "CORPUS;SECONDS" "SOURCES;LIBS" ${ARGN})
  if(NOT F_SECONDS)
    set(F_SECONDS ${TVD_FUZZ_SECONDS})
  endif()
  add_executable(${name} ${F_SOURCES})
  target_link_libraries(${name} PRIVATE ${F_LIBS})
  if(TVD_FUZZ)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    set(work ${CMAKE_CURRENT_BINARY_DIR}/${name}-corpus)
    add_test(NAME ${name}
      COMMAND ${PROJECT_SOURCE_DIR}/tests/fuzz/run_fuzzer.sh
        $<TARGET_FILE:${name}> ${work} ${F_CORPUS} ${F_SECONDS})
    set_tests_properties(${name} PROPERTIES LABELS fuzz
      TIMEOUT 900)
  else()
    target_sources(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/fuzz/replay_main.cc)
    add_test(NAME ${name} COMMAND ${name} ${F_CORPUS})
    set_tests_properties(${name} PROPERTIES LABELS fuzz)
  endif()
endfunction()

# tvd_add_benchmark(NAME SOURCES b.cc LIBS lib...)
# A Google Benchmark (or small harness) binary under bench/; never a test.
function(tvd_add_benchmark name)
  cmake_parse_arguments(B "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(${name} ${B_SOURCES})
  target_link_libraries(${name} PRIVATE ${B_LIBS} benchmark::benchmark)
  target_compile_definitions(${name} PRIVATE
    TVD_SOURCE_DIR="${PROJECT_SOURCE_DIR}" TVD_BENCH_NAME="${name}")
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/bench/include)
endfunction()
