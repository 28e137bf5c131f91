// Expected<T, E>: a value or an error, without exceptions or heap, usable from
// firmware. Mirrors the part of C++23 std::expected we use, so that moving to
// it later is a rename.
#pragma once

#include <type_traits>
#include <utility>
#include <variant>

namespace twinstep {

template <typename E>
struct Unexpected {
  E error;
};

template <typename E>
constexpr Unexpected<E> MakeUnexpected(E e) {
  return Unexpected<E>{e};
}

template <typename T, typename E>
class [[nodiscard]] Expected {
 public:
  constexpr Expected(const T& v) : v_(std::in_place_index<0>, v) {}
  constexpr Expected(T&& v) : v_(std::in_place_index<0>, std::move(v)) {}
  constexpr Expected(Unexpected<E> u) : v_(std::in_place_index<1>, u.error) {}

  constexpr bool has_value() const { return v_.index() == 0; }
  constexpr explicit operator bool() const { return has_value(); }
  // Callers check has_value() first; get_if never throws.
  constexpr T& value() { return *std::get_if<0>(&v_); }
  constexpr const T& value() const { return *std::get_if<0>(&v_); }
  constexpr T& operator*() { return value(); }
  constexpr const T& operator*() const { return value(); }
  constexpr T* operator->() { return &value(); }
  constexpr const T* operator->() const { return &value(); }
  constexpr E error() const { return *std::get_if<1>(&v_); }

 private:
  std::variant<T, E> v_;
};

template <typename E>
class [[nodiscard]] Expected<void, E> {
 public:
  constexpr Expected() = default;
  constexpr Expected(Unexpected<E> u) : ok_(false), e_(u.error) {}
  constexpr bool has_value() const { return ok_; }
  constexpr explicit operator bool() const { return ok_; }
  constexpr E error() const { return e_; }

 private:
  bool ok_ = true;
  E e_{};
};

}  // namespace twinstep
