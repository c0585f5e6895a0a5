# Runs `heck sim SCENARIO --seed N --trace FILE` twice and requires the two
# traces to be byte-identical (and non-trivial). With -DREPORT_B=1 the second
# run also writes a report (--report): recording must not change the run.
#   cmake -DHECK=... -DSCENARIO=... -DSEED=... -DOUT=dir [-DMIN_BYTES=100000] [-DREPORT_B=1] -P trace_twice.cmake
file(MAKE_DIRECTORY "${OUT}")
foreach(run a b)
  set(extra "")
  if(REPORT_B AND run STREQUAL "b")
    set(extra --report "${OUT}/report_b.html")
  endif()
  execute_process(COMMAND "${HECK}" sim "${SCENARIO}" --seed ${SEED} --trace "${OUT}/trace_${run}.jsonl" ${extra}
    RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 50)
  if(NOT code MATCHES "^[01]$")  # pass or fail is fine here; 2 is a bad file
    message(FATAL_ERROR "heck sim (${run}): exit ${code}\n${out}${err}")
  endif()
endforeach()
if(NOT DEFINED MIN_BYTES)
  set(MIN_BYTES 100000)
endif()
file(SIZE "${OUT}/trace_a.jsonl" size)
if(size LESS MIN_BYTES)
  message(FATAL_ERROR "trace is only ${size} bytes")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${OUT}/trace_a.jsonl" "${OUT}/trace_b.jsonl"
  RESULT_VARIABLE same)
if(NOT same EQUAL 0)
  message(FATAL_ERROR "two runs with seed ${SEED} wrote different traces")
endif()
if(REPORT_B AND NOT EXISTS "${OUT}/report_b.html")
  message(FATAL_ERROR "the second run wrote no report")
endif()
message(STATUS "two runs, ${size} bytes each, byte-identical")
