# Runs `heck sim ARGS` and checks its exit code and output (stdout + stderr).
#   cmake -DHECK=... -DARGS="file --seed 3" -DEXPECT_CODE=1 -DEXPECT_OUTPUT=regex -P run_cli.cmake
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND "${HECK}" sim ${args}
  RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 50)
set(all "${out}${err}")
string(REPLACE "\n" " " flat "${all}")
if(NOT code STREQUAL "${EXPECT_CODE}")
  message(FATAL_ERROR "heck sim ${ARGS}: exit ${code}, expected ${EXPECT_CODE}\n${all}")
endif()
if(NOT flat MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "heck sim ${ARGS}: output does not match '${EXPECT_OUTPUT}'\n${all}")
endif()
message(STATUS "heck sim ${ARGS}: exit ${code}, output matches")
