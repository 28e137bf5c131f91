# twinstep_test(NAME SOURCES ... LIBS ... LABELS ...): one GoogleTest binary
# registered with CTest under the given labels (unit, kvm, dataplane, rtl, sim,
# hw, linux, fuzz), so that `ctest -L <label>` runs one group alone.
enable_testing()
function(twinstep_test NAME)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${NAME} ${T_SOURCES})
  target_link_libraries(${NAME} PRIVATE ${T_LIBS} GTest::gtest_main GTest::gmock)
  add_test(NAME ${NAME} COMMAND ${NAME})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT})
  # A hardware or KVM test that skipped (GTEST_SKIP with its reason: no card,
  # no /dev/kvm) shows as skipped in CTest's summary, never as passed.
  if("hw" IN_LIST T_LABELS OR "kvm" IN_LIST T_LABELS)
    set_tests_properties(${NAME} PROPERTIES SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\] [0-9]+ test")
  endif()
endfunction()
