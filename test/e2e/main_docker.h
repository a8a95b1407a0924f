#pragma once

// The e2e tests' client of the main Docker daemon (/var/run/docker.sock),
// the one hack/test.sh starts.
#include <gtest/gtest.h>

#include <memory>

#include "controller/drivers/docker/docker_client.h"

namespace visi::testing {

// Sets *out to a client of the main daemon, checked to answer; a fatal
// failure otherwise (call from SetUp and return on HasFatalFailure()).
inline void ConnectMainDocker(std::unique_ptr<ContainerRuntime>* out) {
  auto d = NewDockerClient({});
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  *out = std::move(*d);
  Status ping = (*out)->Ping();
  ASSERT_TRUE(ping.ok()) << "this test needs the main Docker daemon at /var/run/docker.sock (hack/test.sh starts one): "
                         << ping.ToString();
}

}  // namespace visi::testing
