# Finds twinstep's dependencies (all Debian packages, see scripts/packages.txt).
find_package(PkgConfig REQUIRED)
find_package(Threads REQUIRED)
find_package(GTest REQUIRED)
find_package(benchmark REQUIRED)

if(NOT TWINSTEP_PURE_ONLY)
  pkg_check_modules(DPDK REQUIRED IMPORTED_TARGET libdpdk)
  pkg_check_modules(HWLOC REQUIRED IMPORTED_TARGET hwloc)
  pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
  find_package(Boost 1.74 REQUIRED)
  find_package(CLI11 REQUIRED)
  find_package(tomlplusplus REQUIRED)
  find_package(nlohmann_json REQUIRED)
  # Debian's xrt.pc names a wrong prefix, so XRT is found by its files.
  find_path(XRT_INCLUDE_DIR xrt/xrt_device.h PATHS /usr/include/xrt REQUIRED)
  find_library(XRT_COREUTIL_LIBRARY xrt_coreutil REQUIRED)
endif()
