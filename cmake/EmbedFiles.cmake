# Writes OUTPUT: a C++ source defining visi::EmbeddedCrds(), the contents of
# every file in INPUTS (a ;-separated list) as raw string literals.
# Run as: cmake -DOUTPUT=... -DINPUTS=... -P EmbedFiles.cmake
set(body "#include <string>\n#include <utility>\n#include <vector>\n\nnamespace visi {\n\n")
string(APPEND body "const std::vector<std::pair<std::string, std::string>>& EmbeddedCrds() {\n")
string(APPEND body "  static const std::vector<std::pair<std::string, std::string>> files = {\n")
string(REPLACE "|" ";" INPUTS "${INPUTS}")
foreach(f IN LISTS INPUTS)
  file(READ "${f}" text)
  get_filename_component(name "${f}" NAME)
  string(APPEND body "    {\"crds/${name}\", R\"visi_embed(${text})visi_embed\"},\n")
endforeach()
string(APPEND body "  };\n  return files;\n}\n\n}  // namespace visi\n")
file(WRITE "${OUTPUT}.tmp" "${body}")
execute_process(COMMAND ${CMAKE_COMMAND} -E copy_if_different "${OUTPUT}.tmp" "${OUTPUT}")
