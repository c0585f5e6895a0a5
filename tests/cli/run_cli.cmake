# Runs `heck ARGS` and checks its exit code and output (stdout + stderr).
#   cmake -DHECK=... -DARGS="owners --members a,b web" -DEXPECT_CODE=0 -DEXPECT_OUTPUT=regex -P run_cli.cmake
separate_arguments(args UNIX_COMMAND "${ARGS}")
execute_process(COMMAND "${HECK}" ${args}
  RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 50)
set(all "${out}${err}")
string(REPLACE "\n" " " flat "${all}")
if(NOT code STREQUAL "${EXPECT_CODE}")
  message(FATAL_ERROR "heck ${ARGS}: exit ${code}, expected ${EXPECT_CODE}\n${all}")
endif()
if(NOT flat MATCHES "${EXPECT_OUTPUT}")
  message(FATAL_ERROR "heck ${ARGS}: output does not match '${EXPECT_OUTPUT}'\n${all}")
endif()
message(STATUS "heck ${ARGS}: exit ${code}, output matches")
