# Run by tests/CMakeLists.txt once a GoogleTest executable is built (cmake -P, with EXECUTABLE,
# NAME and OUTPUT): writes OUTPUT, the ctest file with one test per suite of the executable,
# `NAME.Suite`, running `EXECUTABLE --gtest_filter=Suite.*`. Each suite's COST is its number of
# tests, so that a fresh tree's ctest -j starts the long suites first.
execute_process(COMMAND "${EXECUTABLE}" --gtest_list_tests
  OUTPUT_VARIABLE listing ERROR_VARIABLE errors RESULT_VARIABLE result TIMEOUT 60)
if(NOT result EQUAL 0)
  file(REMOVE "${OUTPUT}")
  message(FATAL_ERROR "${EXECUTABLE} --gtest_list_tests failed (${result}): ${errors}")
endif()
string(REPLACE "\n" ";" lines "${listing}")
set(suites "")
foreach(line IN LISTS lines)
  # A suite's line: `Suite.` or `Prefix/Suite.`, then perhaps `  # TypeParam = …`; its tests'
  # lines are indented; gtest_main's own line has spaces before any dot.
  if(line MATCHES "^([A-Za-z0-9_/]+)[.]( |$)")
    set(suite "${CMAKE_MATCH_1}")
    list(APPEND suites "${suite}")
    set(count_${suite} 0)
  elseif(line MATCHES "^  [A-Za-z0-9_/]" AND suite)
    math(EXPR count_${suite} "${count_${suite}} + 1")
  endif()
endforeach()
set(content "")
foreach(suite IN LISTS suites)
  string(APPEND content
    "add_test([==[${NAME}.${suite}]==] [==[${EXECUTABLE}]==] [==[--gtest_filter=${suite}.*]==])\n"
    "set_tests_properties([==[${NAME}.${suite}]==] PROPERTIES TIMEOUT 300 COST ${count_${suite}})\n")
endforeach()
file(WRITE "${OUTPUT}" "${content}")
