# visi_library(NAME SOURCES ... DEPS ...): a small static library with a
# visi:: alias, built from the repository root as include root.
function(visi_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(visi_${name} STATIC ${ARG_SOURCES})
  add_library(visi::${name} ALIAS visi_${name})
  target_include_directories(visi_${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(visi_${name} PUBLIC ${ARG_DEPS})
endfunction()

# visi_test(NAME SOURCES ... DEPS ... [LABELS ...]): a GoogleTest binary whose
# cases are registered with ctest one by one.
function(visi_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60
                       PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT})
endfunction()
