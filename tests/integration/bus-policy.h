/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * bus-policy.h - Debian's system bus policy, in short, for the tests'
 * private dbus-daemons: nothing may be owned or called unless a policy
 * says so.  The body of a <busconfig> after <listen> and <auth>, before
 * the <include>s of the services' own policies (iommud's, polkit's).
 */
#pragma once

#define DEBIAN_SYSTEM_BUS_POLICY                                                                        \
        "  <policy context=\"default\">\n"                                                              \
        "    <allow user=\"*\"/>\n"                                                                     \
        "    <deny own=\"*\"/>\n"                                                                       \
        "    <deny send_type=\"method_call\"/>\n"                                                       \
        "    <allow send_type=\"signal\"/>\n"                                                           \
        "    <allow send_requested_reply=\"true\" send_type=\"method_return\"/>\n"                      \
        "    <allow send_requested_reply=\"true\" send_type=\"error\"/>\n"                              \
        "    <allow receive_type=\"method_call\"/>\n"                                                   \
        "    <allow receive_type=\"method_return\"/>\n"                                                 \
        "    <allow receive_type=\"error\"/>\n"                                                         \
        "    <allow receive_type=\"signal\"/>\n"                                                        \
        "    <allow send_destination=\"org.freedesktop.DBus\" send_interface=\"org.freedesktop.DBus\"/>\n" \
        "    <allow send_destination=\"org.freedesktop.DBus\"\n"                                        \
        "           send_interface=\"org.freedesktop.DBus.Introspectable\"/>\n"                         \
        "  </policy>\n"
